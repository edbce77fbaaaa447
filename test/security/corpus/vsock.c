#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
struct sockaddr_vm { unsigned short family, reserved; unsigned int port, cid; unsigned char zero[4]; };
int main (void) {
  int s = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
  if (s < 0) { printf("vsock socket: %s\n", strerror(errno)); return 0; }
  struct sockaddr_vm host = { .family = 40, .port = 5001, .cid = 2 };
  printf("vsock connect to the host: %s\n", connect(s, (struct sockaddr *)&host, sizeof host) == 0 ? "connected" : strerror(errno));
  return 0;
}
