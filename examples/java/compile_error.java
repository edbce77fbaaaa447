// Does not compile: a type error (a String cannot be assigned to an int).
class Broken {
    public static void main(String[] args) {
        int n = "forty-two";
        System.out.println(n);
    }
}
