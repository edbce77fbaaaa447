public class Main {
  public static void main (String[] a) throws Exception {
    long total = 0;
    for (int eofs = 0; eofs < 1000;) { byte[] b = System.in.readNBytes(4096); if (b.length == 0) eofs++; else total += b.length; }
    System.out.println("eof after " + total + " bytes");
  }
}
