import java.util.*;
public class Main {
  public static void main (String[] x) { List<long[]> l = new ArrayList<>(); for (;;) l.add(new long[1 << 17]); }
}
