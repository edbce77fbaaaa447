/* Entry point; build with: gcc main.c util.c */
#include <stdio.h>
#include "util.h"

int main(void) {
    printf("%s\n", greeting());
    printf("gcd(84, 36) = %d\n", gcd(84, 36));
    return 0;
}
