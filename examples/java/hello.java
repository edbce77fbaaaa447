// Not `public`, so the class name need not match the file name (hello.java).
class Hello {
    public static void main(String[] args) {
        System.out.println("Hello, world!");
    }
}
