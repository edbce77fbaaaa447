import java.nio.file.*;
public class Main {
  public static void main (String[] a) {
    for (String p : a) {
      try {
        Path path = Paths.get(p);
        if (Files.isDirectory(path)) {
          StringBuilder b = new StringBuilder(p + ": listed");
          try (var s = Files.list(path)) { s.forEach((e) -> b.append(" ").append(e.getFileName())); }
          System.out.println(b);
        } else {
          System.out.println(p + ": read " + new String(Files.readAllBytes(path)).replace('\0', ' '));
        }
      } catch (Exception e) {
        System.out.println(p + ": denied (" + e + ")");
      }
    }
  }
}
