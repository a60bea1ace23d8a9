// efento.readme_mapping: README.md's "## Mapping" table is the code's table (mapping.cpp), row
// for row, so the two cannot drift. `efento_readme_mapping_test --print` prints the rows.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "mapping.hpp"

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string table;
    tern::efento::append_readme_table(table);
    if (argc == 2 && std::strcmp(argv[1], "--print") == 0) {
        std::cout << table;
        return 0;
    }
    if (argc != 2) {
        std::cerr << "usage: efento_readme_mapping_test <README.md> | --print\n";
        return 2;
    }
    std::ifstream f(argv[1]);
    if (!f) {
        std::cerr << "cannot read " << argv[1] << "\n";
        return 1;
    }
    std::stringstream buf;
    buf << f.rdbuf();
    const std::vector<std::string> readme = lines_of(buf.str());
    // The table: the first block of '|' lines after the "## Mapping" heading.
    std::vector<std::string> found;
    bool in_section = false;
    for (const std::string& line : readme) {
        if (line.rfind("## ", 0) == 0) {
            if (in_section) break;
            in_section = line == "## Mapping";
            continue;
        }
        if (!in_section) continue;
        if (line.rfind("|", 0) == 0) found.push_back(line);
        else if (!found.empty()) break;
    }
    const std::vector<std::string> expected = lines_of(table);
    if (found == expected) {
        std::cout << "README.md's mapping table matches mapping.cpp (" << expected.size() - 2 << " types)\n";
        return 0;
    }
    std::cerr << "README.md's \"## Mapping\" table differs from mapping.cpp's:\n";
    for (size_t i = 0; i < std::max(found.size(), expected.size()); ++i) {
        const std::string a = i < found.size() ? found[i] : "(missing)";
        const std::string b = i < expected.size() ? expected[i] : "(extra)";
        if (a != b) std::cerr << "  README: " << a << "\n  code:   " << b << "\n";
    }
    std::cerr << "the code's table (efento_readme_mapping_test --print):\n" << table;
    return 1;
}
