#include "shapes.hpp"

Rectangle::Rectangle(double w, double h) : w_(w), h_(h) {}
double Rectangle::area() const { return w_ * h_; }
std::string Rectangle::name() const { return "rectangle"; }

Circle::Circle(double r) : r_(r) {}
double Circle::area() const { return 3.14159265358979 * r_ * r_; }
std::string Circle::name() const { return "circle"; }
