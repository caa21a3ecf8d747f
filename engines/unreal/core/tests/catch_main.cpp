// Catch2's main, alone in its translation unit so that editing a test does not recompile it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
