#include <stdio.h>
int main (void) { for (;;) fputs("€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€\n", stderr); }
