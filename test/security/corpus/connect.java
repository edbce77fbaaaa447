import java.net.*;
public class Main {
  public static void main (String[] a) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(a[0], Integer.parseInt(a[1])), 2000);
      System.out.println("connected to " + a[0]);
    } catch (Exception e) {
      System.out.println("connect " + a[0] + ":" + a[1] + " failed: " + e);
    }
  }
}
