// Entry point; build with: g++ main.cpp shapes.cpp
#include <iostream>
#include <memory>
#include <vector>
#include "shapes.hpp"

int main() {
    std::vector<std::unique_ptr<Shape>> shapes;
    shapes.push_back(std::make_unique<Rectangle>(3.0, 4.0));
    shapes.push_back(std::make_unique<Circle>(1.0));
    for (const auto &s : shapes) {
        std::cout << s->name() << " area " << s->area() << "\n";
    }
    return 0;
}
