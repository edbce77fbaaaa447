import java.io.*;
import java.util.*;
public class Main {
  public static void main (String[] a) {
    List<FileInputStream> l = new ArrayList<>();
    try { for (;;) l.add(new FileInputStream("/dev/null")); }
    catch (IOException e) { System.out.println(l.size() + " fds, then " + e.getMessage()); }
  }
}
