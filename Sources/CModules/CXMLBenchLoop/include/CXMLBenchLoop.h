#ifndef JINGLEKIT_CXMLBENCHLOOP_H
#define JINGLEKIT_CXMLBENCHLOOP_H
#include <stddef.h>
/* Parses `length` bytes with a plain libxml2 SAX2 push parser in `chunk` sized pieces and returns the
   number of stanzas completed (children of the stream root), or -1 on a parse error. It uses the
   parser options of XMLStreamParser and builds nothing: the anchor for the XMLStream benchmark. */
long jk_c_sax_count_stanzas(const char *bytes, size_t length, size_t chunk);
#endif
