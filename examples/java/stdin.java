// Sums the integers on stdin (whitespace separated), then echoes its arguments.
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;

class Sum {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        long total = 0;
        String line;
        while ((line = in.readLine()) != null) {
            for (String word : line.trim().split("\\s+")) {
                if (!word.isEmpty()) total += Long.parseLong(word);
            }
        }
        System.out.println(total);
        StringBuilder sb = new StringBuilder("args:");
        for (String a : args) sb.append(' ').append(a);
        System.out.println(sb);
    }
}
