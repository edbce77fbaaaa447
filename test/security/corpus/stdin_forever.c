#include <stdio.h>
#include <unistd.h>
int main (void) {
  char buf[4096];
  long total = 0, n;
  for (int eofs = 0; eofs < 1000;) { n = read(0, buf, sizeof buf); if (n <= 0) eofs++; else total += n; }
  printf("eof after %ld bytes\n", total);
  return 0;
}
