"""The classic PyTorch VAE on MNIST (784-400-20-400-784, BCE + KL), written the way a PyTorch
user writes it. Kept beside its tinygen port, ``vae_tinygen.py``: the two files differ only
in their imports and their data loader (``tests/test_pytorch_port.py`` checks that line by
line). Needs PyTorch and torchvision to run; tinygen never imports this file.
"""

import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
from torchvision import datasets, transforms

batch_size = 128
log_interval = 10
device = "cpu"
torch.manual_seed(1)

# --- data loader ---
train_loader = torch.utils.data.DataLoader(
    datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor()),
    batch_size=batch_size,
    shuffle=True,
)
# --- end of data loader ---


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()  # noqa: UP008 - as the example writes it
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE().to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-3)


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    # KL(N(mu, sigma) || N(0, 1)) = -0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % log_interval == 0:
            print(
                "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(  # noqa: UP032
                    epoch,
                    batch_idx * len(data),
                    len(train_loader.dataset),
                    100.0 * batch_idx / len(train_loader),
                    loss.item() / len(data),
                )
            )
    average = train_loss / len(train_loader.dataset)
    print(f"====> Epoch: {epoch} Average loss: {average:.4f}")
    return average


def sample(n=64):
    model.eval()
    with torch.no_grad():
        z = torch.randn(n, 20).to(device)
        images = model.decode(z).cpu()
        comparison = torch.cat([images[:8], images[8:16]], dim=0)
    return images.view(n, 1, 28, 28), comparison


if __name__ == "__main__":
    for epoch in range(1, 11):
        train(epoch)
    sample()
