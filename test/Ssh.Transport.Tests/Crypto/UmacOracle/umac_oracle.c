/*
 * A test oracle: tags computed by OpenSSH's own umac.c / umac128.c (built by build.sh from the source snapshot),
 * for UmacOracleTests to compare with ours.
 *
 * stdin, repeated until EOF:  u8 tag size (8 or 16) | 16-byte key | 8-byte nonce | u32 LE length | u32 LE split |
 *                             length bytes of message
 * stdout, one line per record: the tag in upper-case hex.
 * The message is given to umac_update in two calls, split at "split" bytes, as OpenSSH feeds a packet in one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "umac.h"

static int read_exact(void *buf, size_t n)
{
	return n == 0 || fread(buf, 1, n, stdin) == n;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int main(void)
{
	unsigned char head[1 + 16 + 8 + 4 + 4];
	while (read_exact(head, sizeof(head))) {
		int size = head[0];
		const unsigned char *key = head + 1, *nonce = head + 17;
		uint32_t length = le32(head + 25), split = le32(head + 29);
		unsigned char tag[16];
		unsigned char *msg = malloc(length ? length : 1);
		struct umac_ctx *ctx;

		if (msg == NULL || split > length || (size != 8 && size != 16) || !read_exact(msg, length)) {
			fprintf(stderr, "umac_oracle: bad record\n");
			return 2;
		}
		if (size == 8) {
			ctx = umac_new(key);
			umac_update(ctx, msg, split);
			umac_update(ctx, msg + split, length - split);
			umac_final(ctx, tag, nonce);
			umac_delete(ctx);
		} else {
			ctx = umac128_new(key);
			umac128_update(ctx, msg, split);
			umac128_update(ctx, msg + split, length - split);
			umac128_final(ctx, tag, nonce);
			umac128_delete(ctx);
		}
		for (int i = 0; i < size; i++)
			printf("%02X", tag[i]);
		putchar('\n');
		free(msg);
	}
	return ferror(stdin) ? 1 : 0;
}
