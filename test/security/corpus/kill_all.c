#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main (void) {
  int all = kill(-1, SIGKILL), parent = kill(getppid(), SIGKILL), init = kill(1, SIGKILL);
  printf("survived (%d %d %d)\n", all, parent, init);
  return 0;
}
