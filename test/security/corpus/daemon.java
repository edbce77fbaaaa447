public class Main {
  public static void main (String[] a) throws Exception {
    new ProcessBuilder("/usr/bin/setsid", "/bin/sh", "-c", "trap '' HUP TERM; while :; do sleep 1; done")
      .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    System.out.println("parent done");
    System.exit(0);
  }
}
