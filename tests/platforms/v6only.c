/* What Wine answers when a program asks IPV6_V6ONLY of an IPv4 UDP socket, the question
 * quinn-udp 0.6.3 asks of every socket it opens (webrtc-rs patch Q1 stops asking). Windows
 * answers it; Wine refuses it with WSAEOPNOTSUPP (10045). Prints what happened; exit 0 when
 * getsockopt succeeded, 1 when it failed, 2 when the socket could not be made. */
#include <stdio.h>
#include <winsock2.h>
#include <ws2tcpip.h>

int main(void) {
    WSADATA data;
    if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
        return 2;
    }
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET) {
        printf("socket failed: %d\n", WSAGetLastError());
        return 2;
    }
    DWORD v6only = 0;
    int size = sizeof v6only;
    if (getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (char *)&v6only, &size) != 0) {
        printf("getsockopt(IPV6_V6ONLY) on an IPv4 UDP socket failed: WSA error %d\n", WSAGetLastError());
        return 1;
    }
    printf("getsockopt(IPV6_V6ONLY) on an IPv4 UDP socket answered %lu\n", (unsigned long)v6only);
    return 0;
}
