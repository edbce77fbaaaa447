#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void *idle (void *x) { (void)x; for (;;) pause(); }
int main (void) {
  for (int n = 0;; n++) {
    pthread_t t;
    int err = pthread_create(&t, NULL, idle, NULL);
    if (err != 0) { fprintf(stderr, "thread %d: %s\n", n, strerror(err)); return 1; }
  }
}
