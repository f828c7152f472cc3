/* placeholder */
#include "rpc.h"
