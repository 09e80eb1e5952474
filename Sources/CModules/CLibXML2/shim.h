#ifndef JINGLEKIT_CLIBXML2_SHIM_H
#define JINGLEKIT_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian builds libxml2 with ICU; Foundation and ICU clash over UErrorCode. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>

/* XML_SAX2_MAGIC is a macro Swift imports, but keep one name for it. */
static inline unsigned int jk_xml_sax2_magic(void) { return XML_SAX2_MAGIC; }
#endif
