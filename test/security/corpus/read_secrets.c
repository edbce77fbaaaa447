#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
int main (int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    DIR *d = opendir(argv[i]);
    if (d != NULL) {
      struct dirent *e;
      printf("%s: listed", argv[i]);
      while ((e = readdir(d)) != NULL) printf(" %s", e->d_name);
      printf("\n");
      closedir(d);
      continue;
    }
    FILE *f = fopen(argv[i], "rb");
    if (f == NULL) { printf("%s: denied (%s)\n", argv[i], strerror(errno)); continue; }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    for (size_t j = 0; j < n; j++) if (buf[j] == 0) buf[j] = ' ';
    buf[n] = 0;
    printf("%s: read %s\n", argv[i], buf);
    fclose(f);
  }
  return 0;
}
