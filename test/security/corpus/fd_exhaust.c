#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
int main (void) {
  int n = 0;
  while (open("/dev/null", O_RDONLY) >= 0) n++;
  printf("%d fds, then %s\n", n, strerror(errno));
  return 0;
}
