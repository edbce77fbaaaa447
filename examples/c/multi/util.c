#include "util.h"

const char *greeting(void) {
    return "Hello from util.c!";
}

int gcd(int a, int b) {
    while (b != 0) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}
