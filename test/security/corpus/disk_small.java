import java.nio.file.*;
public class Main {
  public static void main (String[] a) throws Exception {
    byte[] buf = new byte[4096];
    for (int i = 0;; i++) Files.write(Paths.get("/tmp/f" + i), buf);
  }
}
