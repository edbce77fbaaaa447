// 2^N distinct instantiations, each with members: the compiler's memory grows until a limit stops it.
template <int N, unsigned long M> struct Blow {
  typedef Blow<N - 1, 2 * M> L;
  typedef Blow<N - 1, 2 * M + 1> R;
  static const unsigned long value = L::value + R::value;
  int a[N + 1], b[N + 2], c[N + 3], d[N + 4];
  void f (int) {} void g (long) {} void h (char) {} void i (short) {}
};
template <unsigned long M> struct Blow<0, M> { static const unsigned long value = M; };
int main () { return Blow<30, 0>::value == 0; }
