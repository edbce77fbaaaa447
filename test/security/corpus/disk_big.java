import java.io.*;
public class Main {
  public static void main (String[] a) throws IOException {
    byte[] buf = new byte[65536];
    try (FileOutputStream f = new FileOutputStream("big")) { for (;;) f.write(buf); }
  }
}
