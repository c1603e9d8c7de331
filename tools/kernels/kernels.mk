# The kernel matrix: `make test-kernels` boots Debian's kernel packages
# (6.1, 6.12, 6.18.y, 7.x; KERNELS="..." to choose) under qemu without KVM
# and runs leakscope's checks in each; the table goes to stdout and to
# build/kernels/matrix.md.  See tools/kernels/README.md.
.PHONY: test-kernels kernels-deps

# qemu-system-x86 (software emulation) and busybox-static (the guest's
# userland), from Debian's archive when missing; root installs them.
KERNELS_PKGS := qemu-system-x86 busybox-static

kernels-deps:
	@missing=""; for p in $(KERNELS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "test-kernels: installing$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing \
			|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			     apt-get install -y -q --no-install-recommends $$missing; }; \
	fi

test-kernels: kernels-deps all fixtures
	BUILD=$(BUILD) $(PYTHON) tools/kernels/matrix.py
