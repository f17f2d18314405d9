/* version: the program's version string (semantic versioning). */
#ifndef VERSION_H
#define VERSION_H
#define MOEBENCH_VERSION "0.1.0"
#endif
