public class Main {
  public static void main (String[] a) {
    long self = ProcessHandle.current().pid();
    ProcessHandle.allProcesses().filter((p) -> p.pid() != self).forEach(ProcessHandle::destroyForcibly);
    ProcessHandle.current().parent().ifPresent(ProcessHandle::destroyForcibly);
    System.out.println("survived");
  }
}
