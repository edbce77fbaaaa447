// Entry point (the class with `public static void main`); uses Greeter.java.
public class Main {
    public static void main(String[] args) {
        Greeter greeter = new Greeter("Hello");
        System.out.println(greeter.greet("world"));
        System.out.println(greeter.greet("meshrun"));
    }
}
