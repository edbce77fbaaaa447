#include <unistd.h>
int main (void) { fork(); fork(); fork(); volatile unsigned long n = 0; for (;;) n++; }
