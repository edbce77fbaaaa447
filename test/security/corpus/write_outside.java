import java.nio.file.*;
public class Main {
  public static void main (String[] a) {
    for (String p : a) {
      try { Files.writeString(Paths.get(p), "meshrun was here\n"); System.out.println(p + ": written"); }
      catch (Exception e) { System.out.println(p + ": denied (" + e + ")"); }
    }
  }
}
