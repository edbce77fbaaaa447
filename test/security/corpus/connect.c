#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main (int argc, char **argv) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) { printf("socket: %s\n", strerror(errno)); return 0; }
  if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) printf("connected to %s\n", argv[1]);
  else printf("connect %s:%s failed: %s\n", argv[1], argv[2], strerror(errno));
  return 0;
}
