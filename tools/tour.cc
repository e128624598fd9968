// A short tour of weft, printed to stdout: ./bazelw run //tools:tour
//
// For now it shows the bottom layers: external iterators (method and pipe
// form), generators written with co_yield, nested generators, and pinning.
// Later the main target becomes a service.
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "iter/iter.h"
#include "pin/pin.h"
#include "pin/pinned.h"

namespace iter = weft::iter;

namespace {

iter::Generator<long> fibonacci() {
  long a = 0, b = 1;
  for (;;) {
    co_yield a;
    a = std::exchange(b, a + b);
  }
}

struct Node {
  int value;
  std::vector<Node> children;
};

// Depth-first walk: each level delegates with elements_of, so every value
// costs O(1) however deep the tree is.
iter::Generator<int> walk(const Node& n) {
  co_yield n.value;
  for (const Node& c : n.children) co_yield iter::elements_of(walk(c));
}

void section(const char* title) { std::printf("\n== %s\n", title); }

}  // namespace

int main() {
  std::printf("weft tour: iterators, generators and pinning, no heap in the adaptor chains\n");

  section("adaptors, method form and pipe form side by side");
  auto square = [](int x) { return x * x; };
  auto odd = [](int x) { return x % 2 == 1; };
  int a = iter::range(0, 10).map(square).filter(odd).sum();
  int b = iter::range(0, 10) | iter::map(square) | iter::filter(odd) | iter::sum();
  std::printf("sum of odd squares below 100: %d (method) == %d (pipe)\n", a, b);

  section("borrowing a container; items are references");
  std::vector<std::string> words = {"poll", "waker", "pin", "future", "executor"};
  for (auto [i, w] : iter::from(words).enumerate()) {
    if (i % 2 == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
  }
  iter::from(words).for_each([](const std::string& w) { std::printf("%s ", w.c_str()); });
  std::printf("\n");
  auto longest = iter::from(words).max_by_key([](const std::string& w) { return w.size(); });
  std::printf("longest word: %s\n", longest->c_str());
  auto [short_words, long_words] =
      iter::from(words).partition<std::vector<std::string>>([](const std::string& w) { return w.size() <= 4; });
  std::printf("%zu short, %zu long\n", short_words.size(), long_words.size());

  section("zip, chain, windows, step_by, rev");
  std::vector<int> xs = {3, 1, 4, 1, 5, 9, 2, 6};
  int dot = iter::from(xs).zip(iter::from(xs).rev()).map([](auto p) { return p.first * p.second; }).sum();
  std::printf("xs . reverse(xs) = %d\n", dot);
  auto rises = iter::windows(xs, 2).filter([](auto w) { return w[1] > w[0]; }).count();
  std::printf("rises between neighbours: %zu\n", rises);
  auto evens_then_odds = iter::range(0, 10).step_by(2).chain(iter::range(0, 10).skip(1).step_by(2))
                             .collect<std::vector>();
  std::printf("evens then odds:");
  for (int x : evens_then_odds) std::printf(" %d", x);
  std::printf("\n");

  section("generators (co_yield) are iterators too");
  std::printf("first 12 Fibonacci numbers:");
  for (long f : fibonacci().take(12)) std::printf(" %ld", f);
  std::printf("\n");
  auto first_big = fibonacci().position([](long f) { return f > 1'000'000; });
  std::printf("first Fibonacci number above a million is #%zu\n", *first_big);

  section("nested generators: co_yield iter::elements_of(...)");
  Node tree{1, {{2, {{3, {}}, {4, {}}}}, {5, {{6, {{7, {}}}}}}}};
  std::printf("depth-first:");
  for (int v : walk(tree)) std::printf(" %d", v);
  std::printf("\n");

  section("collect into any container");
  auto histogram = iter::from(words)
                       .map([](const std::string& w) { return std::pair(w.size(), w); })
                       .collect<std::multimap<std::size_t, std::string>>();
  for (const auto& [len, w] : histogram) std::printf("%zu:%s ", len, w.c_str());
  std::printf("\n");

  section("pinning: an immovable object built in place and never moved");
  struct Counter {
    int n = 0;
    Counter() = default;
    Counter(Counter&&) = delete;  // immovable, like a self-referential future
  };
  weft::Pinned<Counter> c{[] { return Counter{}; }};  // guaranteed elision, no move
  weft::Pin<Counter*> p = c.as_pin();
  p.get_unchecked_mut()->n += 42;
  std::printf("pinned counter at %p holds %d\n", static_cast<const void*>(&p.get_ref()), p->n);
  return 0;
}
