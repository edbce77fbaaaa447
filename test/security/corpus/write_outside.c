#include <errno.h>
#include <stdio.h>
#include <string.h>
int main (int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "w");
    if (f == NULL || fputs("meshrun was here\n", f) < 0 || fclose(f) != 0) printf("%s: denied (%s)\n", argv[i], strerror(errno));
    else printf("%s: written\n", argv[i]);
  }
  return 0;
}
