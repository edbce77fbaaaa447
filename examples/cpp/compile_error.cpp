// Does not compile: a type error (a std::string cannot become an int).
#include <iostream>
#include <string>

int main() {
    std::string word = "forty-two";
    int n = word;
    std::cout << n << std::endl;
    return 0;
}
