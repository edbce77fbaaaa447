#pragma once
#include <string>

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};

class Rectangle : public Shape {
public:
    Rectangle(double w, double h);
    double area() const override;
    std::string name() const override;

private:
    double w_, h_;
};

class Circle : public Shape {
public:
    explicit Circle(double r);
    double area() const override;
    std::string name() const override;

private:
    double r_;
};
