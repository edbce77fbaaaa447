/* Sums the integers on stdin (whitespace separated), then echoes its arguments. */
#include <stdio.h>

int main(int argc, char **argv) {
    long long total = 0, n;
    while (scanf("%lld", &n) == 1) total += n;
    printf("%lld\n", total);
    printf("args:");
    for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    return 0;
}
