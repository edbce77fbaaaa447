#include <stdio.h>
#include <string.h>
#include <errno.h>
int main (void) {
  static char buf[65536];
  FILE *f = fopen("big", "wb");
  if (f == NULL) return 2;
  for (long n = 0;; n += sizeof buf) {
    if (fwrite(buf, 1, sizeof buf, f) != sizeof buf || fflush(f) != 0) { fprintf(stderr, "after %ld bytes: %s\n", n, strerror(errno)); return 1; }
  }
}
