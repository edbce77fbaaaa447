public class Main {
  public static void main (String[] args) {
    for (int n = 0;; n++) {
      Thread t = new Thread(() -> { try { Thread.sleep(1_000_000); } catch (InterruptedException e) {} });
      t.setDaemon(true);
      t.start();
    }
  }
}
