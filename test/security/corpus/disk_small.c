#include <stdio.h>
#include <string.h>
#include <errno.h>
int main (void) {
  char name[64], buf[4096] = {0};
  for (int i = 0;; i++) {
    snprintf(name, sizeof name, "/tmp/f%d", i);
    FILE *f = fopen(name, "wb");
    if (f == NULL || fwrite(buf, 1, sizeof buf, f) != sizeof buf || fclose(f) != 0) { fprintf(stderr, "file %d: %s\n", i, strerror(errno)); return 1; }
  }
}
