public class Main {
  public static void main (String[] a) throws Exception { Thread.sleep(Long.MAX_VALUE); }
}
