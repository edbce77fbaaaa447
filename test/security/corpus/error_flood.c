int main (void) {
#define E x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x;
#define E2 E E E E E E E E E E E E E E E E
#define E3 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2
E3 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3
}
