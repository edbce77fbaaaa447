public class Main {
  public static void main (String[] a) { String s = "y".repeat(4096); for (;;) System.out.print(s); }
}
