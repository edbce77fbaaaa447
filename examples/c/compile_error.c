/* Does not compile: a missing semicolon and an undeclared variable. */
#include <stdio.h>

int main(void) {
    int x = 1
    printf("%d\n", x + undeclared);
    return 0;
}
