public class Main {
  public static void main (String[] a) { String s = "€ü".repeat(1000); for (;;) System.err.print(s); }
}
