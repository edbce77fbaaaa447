// Sums the integers on stdin (whitespace separated), then echoes its arguments.
#include <iostream>

int main(int argc, char **argv) {
    long long total = 0, n;
    while (std::cin >> n) total += n;
    std::cout << total << "\n";
    std::cout << "args:";
    for (int i = 1; i < argc; i++) std::cout << " " << argv[i];
    std::cout << "\n";
    return 0;
}
