public class Main {
  static volatile long n;
  public static void main (String[] a) {
    for (int i = 0; i < 8; i++) new Thread(() -> { for (;;) n++; }).start();
  }
}
