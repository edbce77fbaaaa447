#ifndef UTIL_H
#define UTIL_H

const char *greeting(void);
int gcd(int a, int b);

#endif
